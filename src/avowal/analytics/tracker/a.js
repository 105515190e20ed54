/*! avowal analytics: no cookies, no storage, nothing that identifies anyone */
!function(w,d,l){
var s=d.currentScript,a=function(k){return s&&s.getAttribute("data-"+k)},
D=a("domain")||l.hostname,
A=a("api")||(s?new URL(s.src).origin:"")+"/api/event",
H=a("hash")!=null,
X=(a("exclude")||"").split(",").filter(Boolean).map(function(g){return RegExp("^"+g.trim().replace(/[.+^${}()|[\]\\]/g,"\\$&").replace(/\*/g,".*").replace(/\?/g,".")+"$")}),
q=w.avowal&&w.avowal.q||[],h=w.history,n=w.navigator,P;
function e(m,o){
if(X.some(function(r){return r.test(l.pathname)}))return;
var b=JSON.stringify({n:m,u:H?l.href:l.href.split("#")[0],d:D,r:d.referrer||null,p:o&&(o.props||o),h:H?1:void 0});
n.sendBeacon&&n.sendBeacon(A,b)||fetch(A,{method:"POST",body:b,keepalive:!0,credentials:"omit",headers:{"Content-Type":"text/plain"}}).catch(function(){})}
function v(){var p=l.pathname+(H?l.hash:"");p!==P&&(P=p,e("pageview"))}
w.avowal=e;
["pushState","replaceState"].forEach(function(k){var f=h[k];f&&(h[k]=function(){var r=f.apply(this,arguments);v();return r})});
w.addEventListener("popstate",v);H&&w.addEventListener("hashchange",v);
"prerender"==d.visibilityState?d.addEventListener("visibilitychange",function c(){"visible"==d.visibilityState&&(d.removeEventListener("visibilitychange",c),v())}):v();
for(var i=0;i<q.length;i++)e.apply(w,q[i]);
}(window,document,location);
