/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    return {
      name: "hookflow",
      home: "aws",
      removal: input?.stage === "production" ? "retain" : "remove",
    };
  },
  // SST refuses top-level imports here: its globals exist only inside run().
  async run() {
    const { hookflow } = await import("./infra/sst/hookflow");
    return hookflow();
  },
});
