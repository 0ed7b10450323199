import { Option } from "commander";

export const jsonOption = () => new Option("--json", "print the API's JSON as it is, for scripts");
