/**
 * Writes the JSON Schemas editors use to complete and check the YAML files
 * (`# yaml-language-server: $schema=…`), from the same zod schemas the sidecar validates with.
 *
 *   npm run schema
 *
 * test/unit/json-schemas.test.ts fails when a committed file differs from what this produces.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configJsonSchema } from '../src/config/schema.ts';
import { policyJsonSchema } from '../src/policy/schema.ts';
import { eventJsonSchema } from '../src/audit/stream/event-schema.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const JSON_SCHEMAS: ReadonlyArray<{ readonly file: string; readonly render: () => string }> = [
  { file: join(ROOT, 'schema', 'policy.schema.json'), render: () => `${JSON.stringify(policyJsonSchema(), null, 2)}\n` },
  { file: join(ROOT, 'schema', 'config.schema.json'), render: () => `${JSON.stringify(configJsonSchema(), null, 2)}\n` },
  // What events.webhook posts (and each syslog message carries): for receivers, not for editors.
  { file: join(ROOT, 'schema', 'events.schema.json'), render: () => `${JSON.stringify(eventJsonSchema(), null, 2)}\n` },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const schema of JSON_SCHEMAS) {
    await writeFile(schema.file, schema.render());
    process.stdout.write(`wrote ${schema.file}\n`);
  }
}
