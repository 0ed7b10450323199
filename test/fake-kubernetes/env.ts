/**
 * Kubernetes' expansion of `$(NAME)` in env values (k8s.io/kubernetes third_party/forked/golang/expansion):
 * `$(NAME)` becomes an earlier variable's value (or stays as written when there is none), `$$` becomes `$`,
 * any other `$` stays. The fake applies it so that tests see what a container would see.
 */
export function expandEnvValue(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const char = input[i] as string;
    const next = input[i + 1];
    if (char !== "$" || next === undefined) {
      out += char;
      continue;
    }
    if (next === "$") {
      out += "$";
      i++;
      continue;
    }
    if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += lookup(name) ?? `$(${name})`;
      i = close;
      continue;
    }
    out += char;
  }
  return out;
}
