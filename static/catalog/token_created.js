// The token page's "Copy" button: the secret to the clipboard, shown only this once.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.dataset.copy);
      field.select();
      (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject()).then(
        function () { button.textContent = "Copied"; },
        function () { document.execCommand("copy"); button.textContent = "Copied"; }
      );
    });
  });
})();
