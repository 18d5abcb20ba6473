"""Editor support: the language server behind `leadrules lsp`, over dsl."""
