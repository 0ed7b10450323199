// Plain JavaScript, run by `prestart` and `pretest`: right after a clone nothing is installed yet (not even the
// TypeScript loader), so the two commands of the quick start install from the lockfile first.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(`${root}/node_modules/.package-lock.json`)) {
  console.log("hookflow: installing dependencies from package-lock.json (npm ci) ...");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
