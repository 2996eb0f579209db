// What every read-path k6 script shares: the seeded fixtures from the environment, who each virtual
// user is, the routes it reads and how an answer is judged. Driven by `python -m loadtests.read_path`.
//
// Environment:
//   BASE_URL             the gateway, or the bare app (TARGET=bare, ROUTE=bare); several gateway replicas
//                        comma-separated, user i talking to replica i % n as an ingress spreads them
//   API_KEYS             one key per owner, comma-separated
//   JOB_IDS, SAVE_IDS    per owner, in the order of API_KEYS: groups separated by ";", ids by ","
//                        (a key only sees its own owner's jobs and saves; others answer 404)

import http from 'k6/http';
import exec from 'k6/execution';
import { Rate } from 'k6/metrics';

const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);
const groups = (value) => (value || '').split(';').map(list);

const baseUrls = list(__ENV.BASE_URL);
export const baseUrl = baseUrls[0];
const apiKeys = list(__ENV.API_KEYS);
const jobIds = groups(__ENV.JOB_IDS);
const saveIds = groups(__ENV.SAVE_IDS);

export const READ_ROUTES = ['status', 'saves_list', 'save_detail', 'chat_history'];
export const BARE_PATH = '/doc';
// Status is what a waiting user polls; the other reads are browsing, together as often.
const READ_WEIGHTS = { status: 4, saves_list: 2, save_detail: 2, chat_history: 2 };
const weighted = Object.entries(READ_WEIGHTS).flatMap(([route, weight]) => Array(weight).fill(route));

export const pickRead = () => weighted[Math.floor(Math.random() * weighted.length)];

// Answers that are neither a success, a 429 (refusals are an expected answer under load) nor, for a write,
// a 409 (users of one owner share its estimates, and a second chat turn on one is refused while the first
// runs: `turn_in_progress`).
export const unexpected = new Rate('unexpected');
export const throttled = new Rate('throttled');
export const conflicted = new Rate('conflicted');

export function requireFixtures(needsOwners) {
  if (!baseUrl) throw new Error('BASE_URL is required');
  if (needsOwners && (!apiKeys.length || jobIds.length !== apiKeys.length || saveIds.length !== apiKeys.length)) {
    throw new Error('API_KEYS, and one JOB_IDS and SAVE_IDS group per key, are required');
  }
}

const pick = (items) => items[Math.floor(Math.random() * items.length)];

// A virtual user belongs to one owner and watches one of that owner's jobs; it has an address of its
// own (sent as X-Forwarded-For, which the stack trusts from loopback) so that per-IP rate limits count
// people, as they would behind a load balancer, instead of counting k6 as one client.
export function currentUser() {
  const id = exec.vu.idInTest - 1;
  const owner = id % apiKeys.length;
  const jobs = jobIds[owner];
  return {
    base: baseUrls[id % baseUrls.length],
    jobs,
    saves: saveIds[owner],
    watched: jobs[Math.floor(id / apiKeys.length) % jobs.length],
    headers: {
      Authorization: `Bearer ${apiKeys[owner]}`,
      'X-Forwarded-For': `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
    },
  };
}

export function readPath(route, user) {
  switch (route) {
    case 'status':
      return `/api/estimate/${user.watched}/status`;
    case 'saves_list':
      return '/api/saves?limit=20';
    case 'save_detail':
      return `/api/saves/${pick(user.saves)}`;
    case 'chat_history':
      return `/api/estimate/${pick(user.jobs)}/chat`;
    default:
      throw new Error(`unknown read route ${route}`);
  }
}

export function judge(response, route, kind) {
  const tags = { route, kind };
  const ok = (response.status >= 200 && response.status < 300) || response.status === 304;
  const conflict = kind === 'write' && response.status === 409;
  throttled.add(response.status === 429, tags);
  conflicted.add(conflict, tags);
  unexpected.add(!ok && response.status !== 429 && !conflict, tags);
  return ok;
}

export function read(route, user) {
  const params = { headers: user.headers, tags: { name: route, route, kind: 'read' }, timeout: '30s' };
  return judge(http.get(`${user.base}${readPath(route, user)}`, params), route, 'read');
}

export function readBare() {
  const params = { tags: { name: 'bare', route: 'bare', kind: 'read' }, timeout: '30s' };
  return judge(http.get(`${baseUrl}${BARE_PATH}`, params), 'bare', 'read');
}

// Thresholds on sub-metrics are also what makes k6 put each route's numbers in its summary; the
// `>=0` ones never fail and exist only for that.
export function reportedPerRoute(routes, readTarget) {
  const thresholds = {};
  for (const [route, kind] of routes) {
    thresholds[`http_req_duration{route:${route}}`] = [kind === 'read' && readTarget ? `p(99)<${readTarget}` : 'max>=0'];
    thresholds[`unexpected{route:${route}}`] = ['rate>=0'];
    thresholds[`throttled{route:${route}}`] = ['rate>=0'];
    thresholds[`conflicted{route:${route}}`] = ['rate>=0'];
  }
  return thresholds;
}

export const SUMMARY_STATS = ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)', 'count'];

export function summaryTo(data) {
  return { [__ENV.SUMMARY || 'summary.json']: JSON.stringify(data, null, 2) };
}
