// The HTTP face of the resource verbs: decodes query and body, calls the registry,
// list or watch hub, and answers as the real server does (201 on create, watch
// streams as newline-delimited JSON events over a chunked response).
import type { ServerResponse } from 'node:http';
import { badRequest, methodNotAllowed, notFoundPath, unsupportedMediaType } from './errors.js';
import { parseBody, sendJson } from './http-io.js';
import { isMap } from './json-value.js';
import { listObjects } from './list.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import type { DeleteOptions, Registry } from './registry.js';
import type { ResourceRoute } from './routes.js';
import { verbOf } from './routes.js';
import { parseFieldSelector, parseLabelSelector, type ObjectFilter } from './selectors.js';
import type { ObjectStore } from './store.js';
import type { WatchHub, WatchSink, WatchSpec } from './watch-hub.js';

export interface HandlerContext {
  registry: Registry;
  store: ObjectStore;
  hub: WatchHub;
}

export interface ResourceRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
  body: Buffer;
}

const WRITE_TYPES = new Set(['application/json', 'application/yaml', '*/*']);

function filterOf(route: ResourceRoute, query: URLSearchParams): ObjectFilter {
  const fields = parseFieldSelector(query.get('fieldSelector'), route.def);
  // An object path under /watch/ watches that one object.
  if (route.name !== undefined) fields.push({ field: 'metadata.name', op: '=', value: route.name });
  return { labels: parseLabelSelector(query.get('labelSelector')), fields };
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name} must be an integer, got "${v}"`);
  return Number(v);
}

function writeBody(req: ResourceRequest): unknown {
  const type = req.contentType ?? 'application/json';
  if (!WRITE_TYPES.has(type)) throw unsupportedMediaType(type);
  return parseBody(req.body, type);
}

function deleteOptions(req: ResourceRequest): DeleteOptions {
  if (req.body.length > 0 && req.body.toString('utf8').trim() !== '') {
    const body = parseBody(req.body, req.contentType);
    if (!isMap(body)) throw badRequest('DeleteOptions must be an object');
    const grace = body.gracePeriodSeconds;
    if (grace !== undefined && grace !== null && typeof grace !== 'number') throw badRequest('DeleteOptions.gracePeriodSeconds must be an integer');
    if (body.preconditions !== undefined && body.preconditions !== null && !isMap(body.preconditions)) {
      throw badRequest('DeleteOptions.preconditions must be an object');
    }
    return body as DeleteOptions;
  }
  // Without a body the options come from the query.
  const opts: DeleteOptions = {};
  const grace = intParam(req.query, 'gracePeriodSeconds');
  if (grace !== undefined) opts.gracePeriodSeconds = grace;
  return opts;
}

function startWatch(ctx: HandlerContext, route: ResourceRoute, query: URLSearchParams, res: ServerResponse): void {
  const rv = query.get('resourceVersion');
  if (rv && !/^\d+$/.test(rv)) throw badRequest(`invalid resource version "${rv}"`);
  const spec: WatchSpec = {
    def: route.def,
    filter: filterOf(route, query),
    bookmarks: query.get('allowWatchBookmarks') === 'true',
  };
  if (route.namespace !== undefined) spec.namespace = route.namespace;
  if (rv && rv !== '0') spec.sinceRv = Number(rv);
  const timeout = intParam(query, 'timeoutSeconds');
  if (timeout !== undefined) spec.timeoutSeconds = timeout;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const sink: WatchSink = {
    send: (event) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
    },
    end: () => {
      if (!res.writableEnded) res.end();
    },
    destroy: () => {
      res.destroy();
    },
  };
  const close = ctx.hub.open(spec, sink);
  res.on('close', close);
}

export function handleResource(ctx: HandlerContext, route: ResourceRoute, req: ResourceRequest, res: ServerResponse): void {
  const { def, namespace, name, subresource } = route;
  const verb = verbOf(req.method, route, req.query);
  if (subresource !== undefined && (subresource !== 'status' || !def.hasStatus)) throw notFoundPath(req.path);
  if (subresource !== undefined && verb !== 'get' && verb !== 'update' && verb !== 'patch') {
    throw methodNotAllowed(`${req.method} is not supported on ${def.plural}/${subresource}`);
  }
  const status = subresource === 'status' ? 'status' : undefined;
  switch (verb) {
    case 'get':
      sendJson(res, 200, ctx.registry.get(def, namespace, name!));
      return;
    case 'list': {
      const limit = intParam(req.query, 'limit');
      const q: Parameters<typeof listObjects>[1] = { filter: filterOf(route, req.query) };
      if (namespace !== undefined) q.namespace = namespace;
      if (limit !== undefined) q.limit = limit;
      const cont = req.query.get('continue');
      if (cont) q.continueToken = cont;
      const rv = req.query.get('resourceVersion');
      if (rv) q.resourceVersion = rv;
      const match = req.query.get('resourceVersionMatch');
      if (match) q.resourceVersionMatch = match;
      sendJson(res, 200, listObjects(def, q, ctx.store, ctx.hub));
      return;
    }
    case 'watch':
      startWatch(ctx, route, req.query, res);
      return;
    case 'create':
      if (name !== undefined || (def.namespaced && namespace === undefined)) {
        throw methodNotAllowed(`POST is not allowed on ${req.path}`);
      }
      sendJson(res, 201, ctx.registry.create(def, namespace, writeBody(req)));
      return;
    case 'update': {
      if (name === undefined) throw methodNotAllowed(`PUT needs an object path, not ${req.path}`);
      const { object, created } = ctx.registry.update(def, namespace, name, writeBody(req), status);
      sendJson(res, created ? 201 : 200, object);
      return;
    }
    case 'patch': {
      if (name === undefined) throw methodNotAllowed(`PATCH needs an object path, not ${req.path}`);
      const type = PATCH_CONTENT_TYPES[req.contentType ?? ''];
      if (!type) throw unsupportedMediaType(req.contentType ?? '');
      sendJson(res, 200, ctx.registry.patch(def, namespace, name, type, parseBody(req.body, 'application/json'), status));
      return;
    }
    case 'delete':
      sendJson(res, 200, ctx.registry.delete(def, namespace, name!, deleteOptions(req)));
      return;
    case 'deletecollection':
      throw methodNotAllowed(`deletecollection is not supported by the test apiserver (${req.path})`);
    default:
      throw methodNotAllowed(`${req.method} is not allowed on ${req.path}`);
  }
}
