// Tokenise files with the TextMate grammars of docs/editors/vscode, as VS Code does
// (vscode-textmate with the Oniguruma regex engine), and print every token's text and scopes as
// JSON: {file: [[{"text", "scopes"}, ...] per line]}. Used by tests/test_vscode_grammar.py:
//   node tmgrammar.js GRAMMAR_DIR FILE...
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const [grammarDir, ...files] = process.argv.slice(2);
const grammars = {
  "source.leadrules": path.join(grammarDir, "leadrules.tmLanguage.json"),
  "source.leadrules-tests": path.join(grammarDir, "leadrules-tests.tmLanguage.json"),
};
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;

async function main() {
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      const file = grammars[scopeName];
      return file ? vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file) : null;
    },
  });
  const out = {};
  for (const file of files) {
    const scope = file.endsWith(".tests") ? "source.leadrules-tests" : "source.leadrules";
    const grammar = await registry.loadGrammar(scope);
    let stack = vsctm.INITIAL;
    out[file] = fs.readFileSync(file, "utf8").split("\n").map((line) => {
      const result = grammar.tokenizeLine(line, stack);
      stack = result.ruleStack;
      return result.tokens.map((t) => ({
        text: line.substring(t.startIndex, t.endIndex),
        scopes: t.scopes,
      }));
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
