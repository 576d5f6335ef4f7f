/**
 * Writes `schema/policy.schema.json` from the zod schema (src/policy/schema.ts), so editors that
 * honour `# yaml-language-server: $schema=…` complete and check policy files.
 *
 *   npx tsx src/policy/write-json-schema.ts
 *
 * A unit test checks that the committed file equals what this produces.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { policyJsonSchema } from './schema.ts';

/** Where the schema file lives in the repository. */
export const POLICY_JSON_SCHEMA_FILE = fileURLToPath(new URL('../../schema/policy.schema.json', import.meta.url));

/** The exact text of the schema file. */
export function renderPolicyJsonSchema(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}

export async function writePolicyJsonSchema(file: string = POLICY_JSON_SCHEMA_FILE): Promise<string> {
  await writeFile(file, renderPolicyJsonSchema());
  return file;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const file = await writePolicyJsonSchema();
  process.stdout.write(`wrote ${file}\n`);
}
