/*! avowal analytics: no cookies, no storage, nothing that identifies anyone */
!function(w,d,l){
var s=d.currentScript,a=function(k){return s&&s.getAttribute("data-"+k)},
D=a("domain")||l.hostname,
A=a("api")||(s?new URL(s.src).origin:"")+"/api/event",
H=a("hash")!=null,
X=(a("exclude")||"").split(",").filter(Boolean).map(function(g){return RegExp("^"+g.trim().replace(/[.+^${}()|[\]\\]/g,"\\$&").replace(/\*/g,".*").replace(/\?/g,".")+"$")}),
q=(w.avowal&&w.avowal.q||[]).concat(w.plausible&&w.plausible.q||[]),h=w.history,n=w.navigator,P,V;
//+hash
H=1;
//-hash
//+pageview-props
V={};s&&[].forEach.call(s.attributes,function(t){/^event-/.test(t.name)&&(V[t.name.slice(6)]=t.value)});
//-pageview-props
function e(m,o){
var O=o&&(o.props||o.revenue||o.callback||o.u||o.interactive!=null),c=O&&o.callback||function(){},p,b,f;
if(X.some(function(r){return r.test(l.pathname)}))return c({});
p={n:m,u:O&&o.u||(H?l.href:l.href.split("#")[0]),d:D,r:d.referrer||null,p:O?o.props:o,h:H?1:void 0};
O&&(p.$=o.revenue,o.interactive===!1&&(p.i=!1));
//+pageview-props
m=="pageview"&&(p.p=Object.assign({},V,p.p));
//-pageview-props
b=JSON.stringify(p);f=function(){return fetch(A,{method:"POST",body:b,keepalive:!0,credentials:"omit",headers:{"Content-Type":"text/plain"}})};
O&&o.callback?f().then(c,function(x){c({error:x})}):n.sendBeacon&&n.sendBeacon(A,b)||f().catch(c)}
w.avowal=w.plausible=e;
//+!manual
function v(){var p=l.pathname+(H?l.hash:"");p!==P&&(P=p,e("pageview"))}
["pushState","replaceState"].forEach(function(k){var f=h[k];f&&(h[k]=function(){var r=f.apply(this,arguments);v();return r})});
w.addEventListener("popstate",v);H&&w.addEventListener("hashchange",v);
"prerender"==d.visibilityState?d.addEventListener("visibilitychange",function c(){"visible"==d.visibilityState&&(d.removeEventListener("visibilitychange",c),v())}):v();
//-!manual
//+outbound-links|file-downloads|tagged-events
function W(v,t,o,k){var y=1,g=function(){y&&(y=0,k())};v.preventDefault();setTimeout(g,5e3);o.callback=g;e(t,o)}
function L(v,k,t,o){!v.defaultPrevented&&v.type=="click"&&!(v.ctrlKey||v.metaKey||v.shiftKey)&&(!k.target||/^_(self|parent|top)$/i.test(k.target))?W(v,t,o,function(){l.href=k.href}):e(t,o)}
function C(v){if(v.button>1)return;var k=v.target,u,j,g,y;
//+tagged-events
for(j=4;k&&j--;k=k.parentNode){if(k.tagName=="FORM"){g=0;break}k.tagName=="A"&&(y=y||k);g=R(k)||g}
if(g)return y?(g[1].props.url=y.href,L(v,y,g[0],g[1])):e(g[0],g[1]);
//-tagged-events
//+outbound-links|file-downloads
for(k=v.target;k&&!(k.tagName=="A"&&k.href);)k=k.parentNode;if(!k)return;u=k.href.split("?")[0];
//-outbound-links|file-downloads
//+outbound-links
if(k.host&&k.host!=l.host)return L(v,k,"Outbound Link: Click",{props:{url:k.href}});
//-outbound-links
//+file-downloads
if(F.indexOf(u.split(".").pop())>=0)return L(v,k,"File Download",{props:{url:u}});
//-file-downloads
}
d.addEventListener("click",C);d.addEventListener("auxclick",C);
//-outbound-links|file-downloads|tagged-events
//+file-downloads
var F=(s&&s.getAttribute("file-types")||"pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg,"+(s&&s.getAttribute("add-file-types")||"")).split(",");
//-file-downloads
//+tagged-events
function R(k){var t,x={},$={};(k.className+"").split(" ").forEach(function(c){var m=c.match(/^plausible-event-(.+?)(=|--)(.+)/),y,z;m&&(y=m[1],z=m[3].replace(/\+/g," "),y=="name"?t=z:(y.indexOf("revenue-")?x:$)[y.replace("revenue-","")]=z)});return t&&[t,{props:x,revenue:$.amount&&$}]}
d.addEventListener("submit",function(v){var f=v.target,g=R(f)||R(f.parentNode);g&&W(v,g[0],g[1],function(){f.submit()})});
//-tagged-events
for(var i=0;i<q.length;i++)e.apply(w,q[i]);
}(window,document,location);
