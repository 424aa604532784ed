/**
 * Run by `npm run build` after tsc: makes the files package.json's "bin" names executable, as
 * chmod +x does. tsc writes them 0644. npm sets the mode only when it links or installs, so after
 * `npm link`, a build from an empty dist/ (a fresh clone, `rm -rf dist`) left the linked `eipctl`
 * failing with "Permission denied"; with this, it works, and so does ./dist/cli/eipctl.js.
 */
import { chmod, readFile, stat } from 'node:fs/promises';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
  bin?: Record<string, string>;
};
for (const file of Object.values(pkg.bin ?? {})) {
  const path = new URL(file, root);
  const { mode } = await stat(path);
  // Execute for whoever may read: r (4) shifted to x (1) for owner, group and others.
  await chmod(path, mode | ((mode & 0o444) >> 2));
}
