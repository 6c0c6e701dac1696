// Validate every response the black-box suite received against
// docs/openapi.yaml, with openapi-backend (an OpenAPI validator built on
// Ajv): the status must be documented for the operation, the media type
// declared, the body valid against its schema, and the headers the
// document declares for that response present and valid.
//
// usage: node responses.mjs docs/openapi.yaml responses.jsonl
// Each line of responses.jsonl: {"method","path","status","headers":{lower-case
// name: value},"body": text}. Responses to paths or methods the document
// does not describe (the 404s and 405s of made-up routes) are counted, not
// checked. Exit 0 when every checked response is valid.
import fs from "node:fs";
import YAML from "yaml";
import backend from "openapi-backend";
import addFormats from "ajv-formats";

const OpenAPIBackend = backend.OpenAPIBackend || backend.default;
const [docPath, recordPath] = process.argv.slice(2);
const doc = YAML.parse(fs.readFileSync(docPath, "utf8"));
const api = new OpenAPIBackend({
  definition: doc,
  quick: true, // the document's own validity is check.mjs's (a 3.1 validator)
  strict: false,
  ignoreTrailingSlashes: false, // /books/1/ and /books/1 are not the same route
  customizeAjv: (ajv) => { addFormats(ajv); return ajv; },
});
await api.init();

const failures = new Map(); // one line per kind of failure, with a count and an example
let checked = 0, unmatched = 0;

function fail(op, status, what, rec) {
  const k = `${op.method.toUpperCase()} ${op.path} ${status}: ${what}`;
  const f = failures.get(k) || { n: 0, example: rec };
  f.n++;
  failures.set(k, f);
}

function errorsText(errors) {
  return (errors || []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && e.params.missingProperty ? " (" + e.params.missingProperty + ")" : ""}`).join("; ");
}

function check(rec) {
  const op = api.router.matchOperation({ method: rec.method.toLowerCase(), path: rec.path, headers: {} });
  if (!op) { unmatched++; return; }
  checked++;
  const st = String(rec.status);
  const spec = (op.responses || {})[st] || (op.responses || {}).default;
  if (!spec) return fail(op, st, "status not documented", rec);
  const ctype = (rec.headers["content-type"] || "").split(";")[0].trim();
  const content = spec.content || {};
  if (rec.body.length > 0 || Object.keys(content).length > 0) {
    if (!(ctype in content)) return fail(op, st, `media type "${ctype}" not declared (${Object.keys(content).join(", ") || "no body"})`, rec);
    let body;
    try { body = JSON.parse(rec.body); } catch { return fail(op, st, "body is not JSON", rec); }
    const v = api.validateResponse(body, op, rec.status);
    if (v.errors && v.errors.length) fail(op, st, "body: " + errorsText(v.errors), rec);
  }
  // Each declared header that is present, against its schema; each one
  // the document says is required, present (OpenAPI's default is not).
  const h = api.validateResponseHeaders(rec.headers, op, { statusCode: rec.status, setMatchType: "any" });
  if (h.errors && h.errors.length) fail(op, st, "headers: " + errorsText(h.errors), rec);
  for (const [name, hd] of Object.entries(spec.headers || {}))
    if (hd.required && !(name.toLowerCase() in rec.headers)) fail(op, st, `required header ${name} missing`, rec);
}

const lines = fs.existsSync(recordPath) ? fs.readFileSync(recordPath, "utf8").split("\n").filter(Boolean) : [];
for (const line of lines) check(JSON.parse(line));
for (const [k, f] of failures) {
  const ex = f.example;
  console.log(`invalid (${f.n}x) ${k}\n    e.g. ${ex.method} ${ex.path} -> ${ex.status} ${JSON.stringify(ex.headers)} ${ex.body.slice(0, 300)}`);
}
console.log(`openapi responses: ${checked} checked against ${docPath}, ${failures.size} kinds of invalid response, ${unmatched} to undocumented routes`);
process.exit(failures.size === 0 && checked > 0 ? 0 : 1);
