// The plan's mix of people using the product at once: 80 % read (status, saves list, save detail, chat
// history), 15 % chat about an estimate, 5 % submit new estimates; each waits 1 to 2 s between actions.
// Users arrive over RAMP, then all stay for STEADY. With TARGET=bare every user reads the bare app's one
// endpoint instead, with the same arrival and think time: the floor the gateway is compared with.
//
// Environment (besides BASE_URL, API_KEYS, JOB_IDS, SAVE_IDS: see common.js):
//   TARGET            gateway (default) or bare
//   VUS               users in total (default 1000)
//   RAMP, STEADY      e.g. 10s, 60s
//   GRACEFUL_STOP     how long an unfinished action may run past the end (default 30s)
//   P99_TARGET_MS     the reads' p99 threshold (default 200)
//   SUMMARY           where the JSON summary is written

import http from 'k6/http';
import { sleep } from 'k6';
import {
  READ_ROUTES,
  SUMMARY_STATS,
  currentUser,
  judge,
  pickRead,
  read,
  readBare,
  reportedPerRoute,
  requireFixtures,
  summaryTo,
} from './common.js';

const againstBare = (__ENV.TARGET || 'gateway') === 'bare';
const total = Number(__ENV.VUS || 1000);
const ramp = __ENV.RAMP || '10s';
const steady = __ENV.STEADY || '60s';
const gracefulStop = __ENV.GRACEFUL_STOP || '30s';
const readTarget = __ENV.P99_TARGET_MS || '200';

requireFixtures(!againstBare);

function split(users) {
  if (againstBare) return { bare: users };
  // Every kind of user is present even in a small run, so every route is measured.
  const estimators = Math.max(1, Math.round(users * 0.05));
  const chatters = Math.max(1, Math.round(users * 0.15));
  return { readers: Math.max(1, users - estimators - chatters), chatters, estimators };
}

const scenarios = {};
for (const [name, vus] of Object.entries(split(total))) {
  scenarios[name] = {
    executor: 'ramping-vus',
    exec: name,
    startVUs: 0,
    stages: [
      { duration: ramp, target: vus },
      { duration: steady, target: vus },
    ],
    gracefulRampDown: gracefulStop,
    gracefulStop,
  };
}

const routes = againstBare
  ? [['bare', 'read']]
  : [...READ_ROUTES.map((route) => [route, 'read']), ['chat', 'write'], ['estimate', 'write']];

export const options = {
  scenarios,
  thresholds: {
    // The plan's targets: reads answer within 200 ms at p99, and never fail except by a 429.
    'http_req_duration{kind:read}': [`p(99)<${readTarget}`],
    'unexpected{kind:read}': ['rate==0'],
    ...reportedPerRoute(routes, readTarget),
    // The writes' latency without their quick 429s: how long an answered chat or accepted estimate takes.
    ...(againstBare
      ? {}
      : {
          'http_req_duration{route:chat,status:200}': ['max>=0'],
          'http_req_duration{route:estimate,status:202}': ['max>=0'],
        }),
  },
  summaryTrendStats: SUMMARY_STATS,
  discardResponseBodies: true,
  userAgent: 'estimator-read-path-bench',
};

const think = () => sleep(1 + Math.random());

export function readers() {
  read(pickRead(), currentUser());
  think();
}

export function chatters() {
  const user = currentUser();
  const jobId = user.jobs[Math.floor(Math.random() * user.jobs.length)];
  const response = http.post(
    `${user.base}/api/estimate/${jobId}/chat`,
    JSON.stringify({ message: 'Could the reporting features be delivered in a second phase?' }),
    {
      headers: { ...user.headers, 'Content-Type': 'application/json', Accept: 'application/json' },
      tags: { name: 'chat', route: 'chat', kind: 'write' },
      timeout: '120s',
    },
  );
  // A success that is not the JSON reply asked for is still a wrong answer.
  const json = String(response.headers['Content-Type'] || '').startsWith('application/json');
  judge(response.status === 200 && !json ? { status: 0 } : response, 'chat', 'write');
  think();
}

export function estimators() {
  const user = currentUser();
  const response = http.post(
    `${user.base}/api/estimate`,
    JSON.stringify({ requirements_md: '# Shop\n## Features\n- Catalogue\n- Basket and checkout\n- Order history\n' }),
    {
      headers: { ...user.headers, 'Content-Type': 'application/json' },
      tags: { name: 'estimate', route: 'estimate', kind: 'write' },
      timeout: '30s',
    },
  );
  judge(response, 'estimate', 'write');
  think();
}

export function bare() {
  readBare();
  think();
}

export function handleSummary(data) {
  return summaryTo(data);
}
