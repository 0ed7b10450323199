/** hookflow's release, as package.json names it (a unit test holds them equal); `/healthz` and `doctor` show it. */
export const HOOKFLOW_VERSION = "0.1.0";
