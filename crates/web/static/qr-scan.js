// Camera scanning for "Approve a login": only where the browser has BarcodeDetector and a
// camera; everywhere else the typed code works. No library, no other origin.
(function () {
  "use strict";
  var box = document.getElementById("qr-scan");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  box.hidden = false;
  var button = document.getElementById("qr-scan-start");
  var video = document.getElementById("qr-video");
  var status = document.getElementById("qr-scan-status");
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        status.textContent = "Point the camera at the QR code.";
        var tick = function () {
          detector.detect(video).then(function (codes) {
            for (var i = 0; i < codes.length; i++) {
              var url;
              try { url = new URL(codes[i].rawValue); } catch (e) { continue; }
              if (url.origin === window.location.origin && url.pathname === "/login/qr/approve") {
                stream.getTracks().forEach(function (t) { t.stop(); });
                window.location.assign(url.pathname + url.search);
                return;
              }
            }
            window.setTimeout(tick, 300);
          }, function () { window.setTimeout(tick, 300); });
        };
        tick();
      }, function (err) {
        status.textContent = "The camera is not available (" + err.name + "); type the code instead.";
      });
  });
})();
