"""The lineage graph service: bounded, directed neighbourhoods fetched from the edge tables.

Nobody holds the whole graph in memory. A question (upstream of a dataset, impact of a
column, the products around a product) is answered by walking the indexed edge tables
hop by hop in SQL, building a small ``networkx.DiGraph`` of what was reached, and caching
it under the graph generation that ingestion bumps when it adds edges.

The subgraph every module here passes around
---------------------------------------------
A ``networkx.DiGraph`` whose edges follow the data: ``input dataset → job → output
dataset``, ``input field → output field``, ``upstream product → downstream product``.
Node keys are node ids as the API speaks them:

- ``dataset:<namespace>:<name>``
- ``job:<namespace>:<name>``
- ``datasetField:<namespace>:<dataset>:<field>``
- ``product:<external id>``

``G.graph`` holds ``root`` (the node id asked about), ``level`` (``dataset``, ``column``
or ``product``), ``direction`` (``upstream``, ``downstream`` or ``both``), ``depth``,
``cap``, and ``truncated``: the list of what cut the answer (``"depth"``, ``"cap"``),
empty when nothing was cut.

Node attributes (all JSON scalars):

- ``kind``: ``dataset`` | ``job`` | ``field`` | ``product``
- ``label``: what a picture shows; ``title``: the full qualified name
- ``namespace``, ``name``; fields also have ``dataset`` and ``field``
- ``pk``: the row's id (the dataset's for a field)
- ``url``: the portal page of the node, or ``""``
- ``side``: ``root`` | ``upstream`` | ``downstream``; ``distance``: hops from the root
- ``state``: a job's latest run state (``COMPLETED``, ``FAILED``, ``RUNNING``,
  ``ABORTED``, ``NEW``), a dataset's last writing run state, ``""`` when unknown
- ``late``: the job (or the job writing the dataset) is overdue; ``late_reason`` says
  how (``"running for 2 h, usually 20 min"``)
- ``pii``: the dataset or field carries personal data
- ``product``: external id of the data product the dataset is bound to, or ``""``;
  ``domain``: that product's domain slug
- ``type``: a field's data type, a dataset's subtype (``TABLE``, ``VIEW``...)
- ``status``: a product's status (``active``, ``deprecated``...), ``""`` otherwise
- ``hidden_upstream``, ``hidden_downstream``: neighbours on that side the answer left
  out (depth or cap); a picture offers them as "+N more"

Edge attributes: ``kind`` (``io``, ``column``, ``product``, ``declared``); column edges
also carry ``transformation_type``, ``transformation_subtype``, ``transformations`` (every
``TYPE/SUBTYPE`` the edge is derived by, comma-separated), ``description``,
``dataset_wide`` (a filter or join key feeding every field) and ``job`` (a job node id or
``""``).
"""
