// Starts `leadrules lsp` (pip install 'leadrules[lsp]') for .rules files: diagnostics as you
// type, formatting, completion, hover and go-to-definition. The colours come from the grammars
// in syntaxes/, which work without the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("leadrules").get("command");
  client = new LanguageClient(
    "leadrules",
    "leadrules",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "leadrules" }] }
  );
  client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `leadrules: could not start \`${command} ${args.join(" ")}\` (${error.message}); ` +
        "install it with pip install 'leadrules[lsp]' or set leadrules.command"
    );
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
