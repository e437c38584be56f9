/* Inside WeChat: configure the JS-SDK with the server-signed config and set the share card
   (分享给朋友 / 分享到朋友圈). Without the SDK (it did not load) or the config, nothing happens and the
   page works as it is. */
(function () {
  var node = document.getElementById('wx-share');
  if (!node || typeof window.wx === 'undefined') return;
  var data = JSON.parse(node.textContent);
  var s = data.share;
  window.wx.config({
    debug: false,
    appId: data.config.appId,
    timestamp: data.config.timestamp,
    nonceStr: data.config.nonceStr,
    signature: data.config.signature,
    jsApiList: data.config.jsApiList
  });
  window.wx.ready(function () {
    window.wx.updateAppMessageShareData({ title: s.title, desc: s.desc, link: s.link, imgUrl: s.imgUrl });
    window.wx.updateTimelineShareData({ title: s.title, link: s.link, imgUrl: s.imgUrl });
  });
  window.wx.error(function () { /* a bad signature or domain: WeChat keeps its default card */ });
})();
