"""The language server of `leadrules lsp`: pygls over stdio, answering from engine.editor.language."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from leadrules.dsl.errors import Diagnostic, Span, source_lines
from leadrules.engine.editor import language

SEVERITIES = {"error": types.DiagnosticSeverity.Error,
              "warning": types.DiagnosticSeverity.Warning}
KINDS = {"keyword": types.CompletionItemKind.Keyword, "event": types.CompletionItemKind.Event,
         "field": types.CompletionItemKind.Field, "stage": types.CompletionItemKind.EnumMember,
         "bant": types.CompletionItemKind.Property, "builtin": types.CompletionItemKind.Variable,
         "type": types.CompletionItemKind.TypeParameter}


class Document:
    """One open document's text and path, and its positions converted both ways: dsl spans
    count code points from 1, the client counts its code units (UTF-16 unless agreed) from 0."""

    def __init__(self, server: LanguageServer, uri: str):
        self.uri = uri
        document = server.workspace.get_text_document(uri)
        self.text, self.path = document.source, document.path or uri
        self.units = document.position_codec.client_num_units
        self.lines = source_lines(self.text)

    @property
    def is_rules(self) -> bool:
        """A .tests file shares the editor's language id but is not a rule file."""
        return not self.path.endswith(".tests")

    def position(self, line: int, col: int) -> types.Position:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return types.Position(line=line - 1, character=self.units(text[:col - 1]))

    def range(self, span: Span) -> types.Range:
        return types.Range(start=self.position(span.line, span.col),
                           end=self.position(span.end_line, span.end_col))

    def place(self, position: types.Position) -> tuple[int, int]:
        """The 1-based line and code-point column of a client position."""
        text = self.lines[position.line] if position.line < len(self.lines) else ""
        units = col = 0
        while col < len(text) and units < position.character:
            units += self.units(text[col])
            col += 1
        return position.line + 1, col + 1


def diagnostic(document: Document, found: Diagnostic) -> types.Diagnostic:
    """A leadrules diagnostic as the client shows it, its hint on a line of its own."""
    hint = f"\nhint: {found.hint}" if found.hint else ""
    return types.Diagnostic(range=document.range(found.span), message=found.message + hint,
                            severity=SEVERITIES[found.severity], code=found.code,
                            source="leadrules")


def _version() -> str:
    try:
        return version("leadrules")
    except PackageNotFoundError:
        return "unknown"


server = LanguageServer("leadrules", _version(),
                        text_document_sync_kind=types.TextDocumentSyncKind.Full)


def publish(ls: LanguageServer, uri: str) -> None:
    """Check the document as it is now and send every diagnostic."""
    document = Document(ls, uri)
    found = language.diagnostics(document.text, document.path) if document.is_rules else ()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, diagnostics=[diagnostic(document, d) for d in found]))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: LanguageServer, params: types.DocumentFormattingParams
               ) -> list[types.TextEdit] | None:
    """The whole document in `leadrules fmt`'s layout; nothing while it has syntax errors."""
    document = Document(ls, params.text_document.uri)
    new = language.formatted(document.text, document.path) if document.is_rules else None
    if new is None or new == document.text:
        return [] if new is not None else None
    end = types.Position(line=len(document.lines), character=0)  # after the last line
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end),
                           new_text=new)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=[".", " ", ">"]))
def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
    document = Document(ls, params.text_document.uri)
    offered = language.completions(document.text, document.path,
                                   *document.place(params.position)) if document.is_rules else []
    return types.CompletionList(is_incomplete=False, items=[
        types.CompletionItem(label=c.label, kind=KINDS[c.kind], detail=c.detail)
        for c in offered])


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
    document = Document(ls, params.text_document.uri)
    found = language.hover(document.text, document.path, *document.place(params.position)) \
        if document.is_rules else None
    if found is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                    value=found.markdown),
                       range=document.range(found.span))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
    document = Document(ls, params.text_document.uri)
    span = language.definition(document.text, document.path,
                               *document.place(params.position)) if document.is_rules else None
    return types.Location(uri=document.uri, range=document.range(span)) if span else None


def serve() -> None:
    """Answer one editor over standard input and output until it says exit."""
    server.start_io()
