// People watching their estimates: each virtual user polls the status of one of its owner's jobs about once a second and,
// now and then, opens the list of saves and one save. Driven by `python -m loadtests.read_path`,
// which seeds the data, passes it in the environment and reads the JSON summary this script writes.
//
// Environment:
//   BASE_URLS (or BASE_URL)  gateway replicas, comma-separated; user i talks to replica i % n, as a
//                            load balancer with sticky connections would spread them
//   API_KEYS                 one key per owner, comma-separated
//   JOB_IDS, SAVE_IDS        per owner, in the order of API_KEYS: groups separated by ";", ids by ","
//                            (a key only sees its own owner's jobs and saves; others answer 404)
//   VUS, DURATION            concurrent users and how long they keep watching (e.g. 1000, 60s)
//   BROWSE_EVERY             a user browses saves about once in this many polls (default 10)
//   SUMMARY                  where the JSON summary is written

import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);
const groups = (value) => (value || '').split(';').map(list);

const baseUrls = list(__ENV.BASE_URLS || __ENV.BASE_URL);
const apiKeys = list(__ENV.API_KEYS);
const jobIds = groups(__ENV.JOB_IDS);
const saveIds = groups(__ENV.SAVE_IDS);
const browseEvery = Number(__ENV.BROWSE_EVERY || 10);
const readTarget = __ENV.P99_TARGET_MS || '200';

if (!baseUrls.length || !apiKeys.length || jobIds.length !== apiKeys.length || saveIds.length !== apiKeys.length) {
  throw new Error('BASE_URLS, API_KEYS, and one JOB_IDS and SAVE_IDS group per key are required');
}

const ROUTES = ['status', 'saves_list', 'save_detail'];

// The plan's goal (p99 under 200 ms on read endpoints) as thresholds. They also make k6 report every
// route on its own; crossing one never aborts the run, and the Python side reads the numbers.
const thresholds = {};
for (const route of ROUTES) {
  thresholds[`http_req_duration{name:${route}}`] = [`p(99)<${readTarget}`];
  thresholds[`http_req_failed{name:${route}}`] = ['rate<0.01'];
}

export const options = {
  scenarios: {
    watchers: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 1000),
      duration: __ENV.DURATION || '60s',
      gracefulStop: '10s',
    },
  },
  thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)', 'count'],
  discardResponseBodies: true,
  userAgent: 'estimator-read-path-bench',
};

const pick = (items) => items[Math.floor(Math.random() * items.length)];

export default function () {
  const user = exec.vu.idInTest - 1;
  const baseUrl = baseUrls[user % baseUrls.length];
  const owner = user % apiKeys.length;
  const ownJobs = jobIds[owner];
  const watched = ownJobs[Math.floor(user / apiKeys.length) % ownJobs.length];
  const params = (name) => ({
    headers: { Authorization: `Bearer ${apiKeys[owner]}` },
    tags: { name },
    timeout: '30s',
  });

  if (exec.vu.iterationInScenario === 0) {
    // Users arrive spread over the first second instead of all polling at the same instant.
    sleep(Math.random());
  }

  http.get(`${baseUrl}/api/estimate/${watched}/status`, params('status'));

  if (Math.random() < 1 / browseEvery) {
    http.get(`${baseUrl}/api/saves?limit=20`, params('saves_list'));
    http.get(`${baseUrl}/api/saves/${pick(saveIds[owner])}`, params('save_detail'));
  }

  sleep(0.8 + Math.random() * 0.4);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY || 'read_path_summary.json']: JSON.stringify(data, null, 2) };
}
