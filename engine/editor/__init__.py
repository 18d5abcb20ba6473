"""Editor support: the language server behind `leadrules lsp`, over dsl."""

from leadrules.dsl.errors import UsageError


def serve() -> None:
    """Run the language server over stdio; UsageError if pygls (the `lsp` extra) is missing."""
    try:
        from leadrules.engine.editor.server import serve as serve_stdio
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        raise UsageError("leadrules lsp needs pygls: pip install 'leadrules[lsp]'") from None
    serve_stdio()
