document.getElementById("jsapi-pay").addEventListener("click", function () {
  var params = JSON.parse(document.getElementById("jsapi-params").textContent);
  if (typeof WeixinJSBridge === "undefined") { return; }
  WeixinJSBridge.invoke("getBrandWCPayRequest", params, function () { window.location.reload(); });
});

