// Validate docs/openapi.yaml with a real OpenAPI 3.1 validator, then print
// its operations as JSON lines ("METHOD path") for the caller to compare.
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  if (!api.openapi.startsWith("3.1")) throw new Error("not OpenAPI 3.1: " + api.openapi);
  const ops = [];
  for (const [path, item] of Object.entries(api.paths)) {
    for (const m of ["get", "put", "post", "patch", "delete", "head", "options"]) {
      if (item[m]) ops.push(m.toUpperCase() + " " + path);
    }
  }
  console.log(JSON.stringify(ops));
} catch (e) {
  console.error("invalid: " + e.message);
  process.exit(1);
}
