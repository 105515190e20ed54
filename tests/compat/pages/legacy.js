// plausible-tracker (Plausible's older npm tracker), pointed at avowal.
import Plausible from 'plausible-tracker'

const plausible = Plausible({
  domain: 'localhost',
  apiHost: window.AVOWAL,
  trackLocalhost: true
})
plausible.enableAutoPageviews()

window.visit = {
  event: (name, props) => plausible.trackEvent(name, { props })
}
