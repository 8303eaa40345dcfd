// The npm packages' declarations against their code: every name a module
// exports, and every public member of its classes, is declared in its .d.ts
// and nothing declared is missing from the code. (No TypeScript compiler is
// part of this project's tooling, so the check reads the declarations'
// shape itself.) Runs without a browser or a service.

import { expect, test } from "@playwright/test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** declared lists a .d.ts file's exported values and each exported class's members. */
function declared(file: string) {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const values = new Set<string>();
  const classes = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^export \{([^}]*)\} from/gm)) {
    for (const name of m[1].split(",")) if (name.trim()) values.add(name.trim().split(/\s+as\s+/).pop()!);
  }
  const decl = /^export (?:declare )?(class|function|const|let|interface|type) (\w+)/gm;
  for (const m of text.matchAll(decl)) {
    if (m[1] === "interface" || m[1] === "type") continue; // types only, nothing at run time
    values.add(m[2]);
    if (m[1] !== "class") continue;
    const start = text.indexOf("{", m.index!);
    let depth = 0;
    let end = start;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      if (text[end] === "}" && --depth === 0) break;
    }
    const members = new Set<string>();
    // Members are the class body's lines at two spaces' indent.
    for (const line of text.slice(start + 1, end).split("\n")) {
      const member = /^ {2}(?:readonly |static )*(\w+)\??\s*[(:<]/.exec(line);
      if (member && member[1] !== "constructor") members.add(member[1]);
    }
    classes.set(m[2], members);
  }
  return { values, classes };
}

/** implemented lists a module's exports and its classes' public members, from the code itself. */
function implemented(module: Record<string, unknown>, sample: Record<string, () => object> = {}) {
  const values = new Set(Object.keys(module));
  const classes = new Map<string, Set<string>>();
  for (const [name, value] of Object.entries(module)) {
    if (typeof value !== "function" || !/^class\s/.test(Function.prototype.toString.call(value))) continue;
    const members = new Set<string>();
    for (let proto = value.prototype; proto && proto !== Object.prototype && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const m of Object.getOwnPropertyNames(proto)) if (m !== "constructor") members.add(m);
    }
    // Static members (own properties of the class but its built-in ones).
    for (const m of Object.getOwnPropertyNames(value)) if (!["length", "name", "prototype"].includes(m)) members.add(m);
    // Fields set by the constructor (an error's code, status, ...).
    if (sample[name]) for (const m of Object.keys(sample[name]())) members.add(m);
    classes.set(name, members);
  }
  return { values, classes };
}

function sorted(set: Set<string> | undefined) {
  return [...(set ?? [])].sort();
}

test("latch.d.ts declares exactly what latch.js exports", async () => {
  const pkg = JSON.parse(readFileSync(path.join(root, "frontend/package.json"), "utf8"));
  const entry = path.join(root, "frontend", pkg.exports["."].default);
  const types = path.join(root, "frontend", pkg.exports["."].types);
  expect(pkg.types).toBe(pkg.exports["."].types);
  expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);

  const module = await import(entry);
  const code = implemented(module, {
    // A sample error that carries every optional field the client sets.
    LatchError: () => Object.assign(new module.LatchError("rate_limited", "slow down", 429, { retryAfter: 3 }), { maxAge: 300, amrValues: [], reason: "cancelled" }),
  });
  const decl = declared(types);
  expect(sorted(decl.values)).toEqual(sorted(code.values));
  for (const name of code.classes.keys()) {
    const members = sorted(code.classes.get(name));
    // name and message come from Error; the declarations narrow `name`.
    const declaredMembers = sorted(decl.classes.get(name)).filter((m) => m !== "name" && m !== "message");
    expect(declaredMembers, `members of ${name}`).toEqual(members.filter((m) => m !== "name" && m !== "message"));
  }
});

const testingModules = [
  { code: "frontend/testing/index.js", types: "frontend/testing/index.d.ts" },
  { code: "frontend/testing/totp.js", types: "frontend/testing/totp.d.ts" },
  { code: "frontend/testing/passkey.js", types: "frontend/testing/passkey.d.ts" },
];

for (const { code: file, types } of testingModules) {
  test(`${types} declares exactly what ${file} exports`, async () => {
    const module = await import(path.join(root, file));
    const code = implemented(module, {
      LatchAPIError: () => new module.LatchAPIError(400, "invalid_request", "bad"),
    });
    const decl = declared(path.join(root, types));
    expect(sorted(decl.values)).toEqual(sorted(code.values));
    for (const name of code.classes.keys()) {
      const strip = (list: string[]) => list.filter((m) => m !== "name" && m !== "message");
      expect(strip(sorted(decl.classes.get(name))), `members of ${name}`).toEqual(strip(sorted(code.classes.get(name))));
    }
  });
}

test("every file the packages name exists", () => {
  for (const dir of ["frontend", "frontend/testing"]) {
    const pkgFile = path.join(root, dir, "package.json");
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
    expect(pkg.type, `${dir}: an ES module package`).toBe("module");
    const named = [pkg.main, pkg.types, ...(pkg.files ?? [])];
    for (const target of Object.values(pkg.exports) as (string | Record<string, string>)[]) {
      named.push(...(typeof target === "string" ? [target] : Object.values(target)));
    }
    for (const file of named.filter(Boolean)) {
      expect(existsSync(path.join(root, dir, file)), `${dir}: ${file}`).toBe(true);
    }
  }
});
