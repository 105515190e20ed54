// @plausible-analytics/tracker (Plausible's current official npm tracker), pointed at avowal.
import { init, track } from '@plausible-analytics/tracker'

init({
  domain: 'localhost',
  endpoint: window.AVOWAL + '/api/event',
  captureOnLocalhost: true,
  logging: false
})

window.visit = {
  event: (name, props) => track(name, { props }),
  revenue: (name, amount, currency) => track(name, { revenue: { amount, currency } }),
  quiet: (name) => track(name, { interactive: false })
}
