// As many requests as the server will take: users with no think time, each sending its next request as
// soon as the last is answered. Used for the maximum-throughput comparison (status vs the bare app), the
// single-route capacity table, and the memory run (a fixed number of requests).
//
// Environment (besides BASE_URL, API_KEYS, JOB_IDS, SAVE_IDS: see common.js):
//   ROUTE             status, saves_list, save_detail, chat_history, bare, or reads (the mix's reads)
//   VUS               concurrent users
//   DURATION          run for this long (e.g. 10s), or
//   ITERATIONS        send exactly this many requests (then MAX_DURATION bounds the run)
//   SUMMARY           where the JSON summary is written

import {
  READ_ROUTES,
  SUMMARY_STATS,
  currentUser,
  pickRead,
  read,
  readBare,
  reportedPerRoute,
  requireFixtures,
  summaryTo,
} from './common.js';

const route = __ENV.ROUTE || 'status';
const vus = Number(__ENV.VUS || 32);
const iterations = Number(__ENV.ITERATIONS || 0);

if (route !== 'bare' && route !== 'reads' && !READ_ROUTES.includes(route)) {
  throw new Error(`ROUTE must be bare, reads or one of ${READ_ROUTES.join(', ')}`);
}
requireFixtures(route !== 'bare');

const flood = iterations
  ? { executor: 'shared-iterations', vus, iterations, maxDuration: __ENV.MAX_DURATION || '10m' }
  : { executor: 'constant-vus', vus, duration: __ENV.DURATION || '10s' };

const measured = route === 'reads' ? READ_ROUTES : [route];

export const options = {
  scenarios: { flood: { ...flood, gracefulStop: '10s' } },
  thresholds: reportedPerRoute(measured.map((r) => [r, 'read']), null),
  summaryTrendStats: SUMMARY_STATS,
  discardResponseBodies: true,
  userAgent: 'estimator-read-path-bench',
};

export default function () {
  if (route === 'bare') {
    readBare();
  } else {
    read(route === 'reads' ? pickRead() : route, currentUser());
  }
}

export function handleSummary(data) {
  return summaryTo(data);
}
