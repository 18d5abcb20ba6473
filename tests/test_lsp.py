"""`leadrules lsp` driven by hand over stdio, as an editor drives it: JSON-RPC messages framed by
Content-Length headers, on the real command in a subprocess."""

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs the lsp extra (pygls)")

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20  # seconds for one answer; the server starts in about a second

BROKEN = """\
ruleset "Broken"
events webinar_signup, email_click
fields title: text, employees: number
stages Name, Lead

when webinar_singup then +25
when email_click then +15 at most 3 times per 30 days
stage Name -> Lead if score >= 20 and bant.all
"""


class Session:
    """One `leadrules lsp` process and the messages it sent, read by a thread into a queue."""

    def __init__(self):
        script = Path(sys.executable).with_name("leadrules")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "leadrules"]
        self.process = subprocess.Popen([*command, "lsp"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.process.stdout
        while True:
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not headers:
                return
            self.messages.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method: str, params: dict):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        answer = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in answer, answer
        return answer["result"]

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def wait(self, wanted) -> dict:
        """The next message that `wanted` accepts; the others are dropped."""
        while True:
            message = self.messages.get(timeout=WAIT)
            if wanted(message):
                return message

    def diagnostics(self, uri: str) -> list[dict]:
        return self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                         and m["params"]["uri"] == uri)["params"]["diagnostics"]

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def lsp(tmp_path_factory):
    session = Session()
    root = tmp_path_factory.mktemp("rules")
    try:
        result = session.request("initialize", {"processId": None, "rootUri": root.as_uri(),
                                                "capabilities": {}})
        session.notify("initialized", {})
        session.root = root
        session.capabilities = result["capabilities"]
        yield session
    finally:
        session.close()


def _open(lsp, name: str, text: str) -> str:
    uri = (lsp.root / name).as_uri()
    lsp.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "leadrules", "version": 1, "text": text}})
    return uri


def _at(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def test_the_server_says_what_it_can_do(lsp):
    capabilities = lsp.capabilities
    assert capabilities["textDocumentSync"]["change"] == 1  # the whole text on every change
    assert capabilities["documentFormattingProvider"] is True
    assert capabilities["hoverProvider"] is True
    assert capabilities["definitionProvider"] is True
    assert set(capabilities["completionProvider"]["triggerCharacters"]) == {".", " ", ">"}


def test_an_opened_document_gets_the_diagnostics_of_check_with_their_hints(lsp):
    uri = _open(lsp, "broken.rules", BROKEN)
    found = lsp.diagnostics(uri)
    assert found == [
        {"range": {"start": {"line": 5, "character": 5}, "end": {"line": 5, "character": 19}},
         "severity": 1, "code": "unknown-event", "source": "leadrules",
         "message": "unknown event 'webinar_singup'\nhint: did you mean 'webinar_signup'?"},
        {"range": {"start": {"line": 7, "character": 38}, "end": {"line": 7, "character": 46}},
         "severity": 1, "code": "undeclared-bant", "source": "leadrules",
         "message": "'bant.all' is used but no 'bant from' line says where BANT comes from\n"
                    "hint: add e.g. bant from sales_qualification"},
    ]


def test_a_change_is_checked_again_and_a_syntax_error_is_one_diagnostic(lsp):
    uri = _open(lsp, "typing.rules", "events a\nwhen a then +5\n")
    assert lsp.diagnostics(uri) == []
    lsp.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                          "contentChanges": [{"text": "events a\nwhen a then\n"}]})
    (found,) = lsp.diagnostics(uri)
    assert (found["code"], found["range"]["start"]) == ("syntax", {"line": 1, "character": 11})


def test_columns_are_counted_in_utf16_code_units(lsp):
    text = 'events a\nfields title: text\nfit +5 if title = "😀" and titel = "x"\n'
    uri = _open(lsp, "emoji.rules", text)
    (found,) = lsp.diagnostics(uri)
    # "😀" is one code point and two UTF-16 units: titel starts at code point 26, unit 27
    assert found["range"] == {"start": {"line": 2, "character": 27},
                              "end": {"line": 2, "character": 32}}


def test_formatting_gives_the_layout_of_fmt(lsp):
    uri = _open(lsp, "messy.rules", "events a,b\nWHEN a   then +5\nwhen b then -10 once\n")
    edits = lsp.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert edits == [{"range": {"start": {"line": 0, "character": 0},
                                "end": {"line": 3, "character": 0}},
                      "newText": "events a, b\nwhen a then +5\nwhen b then -10 once\n"}]


def test_formatting_leaves_a_document_with_syntax_errors_alone(lsp):
    uri = _open(lsp, "unparsed.rules", "events a\nwhen a then\n")
    assert lsp.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}) is None


def _labels(answer) -> list[str]:
    return [item["label"] for item in answer["items"]]


def test_completion_offers_the_declared_events_stages_and_bant_members(lsp):
    text = BROKEN + "when \nstage Lead -> \nstage Name -> Lead if bant.\n"
    uri = _open(lsp, "complete.rules", text)
    assert _labels(lsp.request("textDocument/completion", _at(uri, 8, 5))) == [
        "webinar_signup", "email_click"]
    assert _labels(lsp.request("textDocument/completion", _at(uri, 9, 14))) == ["Name", "Lead"]
    assert _labels(lsp.request("textDocument/completion", _at(uri, 10, 27))) == [
        "all", "any", "count", "budget", "authority", "need", "timeline"]
    at_start = lsp.request("textDocument/completion", _at(uri, 11, 0))
    assert _labels(at_start)[:4] == ["ruleset", "events", "activity excludes", "fields"]
    assert {item["kind"] for item in at_start["items"]} == {14}  # Keyword


def test_completion_in_a_condition_offers_fields_with_their_types(lsp):
    uri = _open(lsp, "fields.rules", BROKEN + "fit +10 if \n")
    items = lsp.request("textDocument/completion", _at(uri, 8, 11))["items"]
    assert items[:2] == [{"label": "title", "kind": 5, "detail": "field (text)"},
                         {"label": "employees", "kind": 5, "detail": "field (number)"}]


def test_hover_on_a_rule_says_its_points_and_limits(lsp):
    uri = _open(lsp, "hover.rules", BROKEN)
    answer = lsp.request("textDocument/hover", _at(uri, 6, 20))
    assert answer == {"contents": {"kind": "markdown", "value":
                      "line 7: Each `email_click` event gives **+15** points.\n"
                      "- at most 3 times in any 30 days"},
                      "range": {"start": {"line": 6, "character": 0},
                                "end": {"line": 6, "character": 53}}}


def test_hover_on_a_name_says_where_it_is_declared_and_used(lsp):
    uri = _open(lsp, "hover-name.rules", BROKEN)
    answer = lsp.request("textDocument/hover", _at(uri, 6, 8))
    assert answer["contents"]["value"] == (
        "event `email_click`: declared on line 2, named on line 7.\n\n---\n\n"
        "line 7: Each `email_click` event gives **+15** points.\n- at most 3 times in any 30 days")
    assert answer["range"] == {"start": {"line": 6, "character": 5},
                               "end": {"line": 6, "character": 16}}


def test_definition_goes_from_a_name_to_its_declaration(lsp):
    uri = _open(lsp, "definition.rules", BROKEN)
    assert lsp.request("textDocument/definition", _at(uri, 7, 14)) == {
        "uri": uri, "range": {"start": {"line": 3, "character": 13},
                              "end": {"line": 3, "character": 17}}}  # Lead, in `stages`
    assert lsp.request("textDocument/definition", _at(uri, 6, 7)) == {
        "uri": uri, "range": {"start": {"line": 1, "character": 23},
                              "end": {"line": 1, "character": 34}}}  # email_click, in `events`
    assert lsp.request("textDocument/definition", _at(uri, 5, 8)) is None  # not declared


def test_a_tests_file_gets_no_rule_diagnostics(lsp):
    uri = _open(lsp, "b2b.tests", (ROOT / "rulesets" / "b2b.tests").read_text(encoding="utf-8"))
    assert lsp.diagnostics(uri) == []
