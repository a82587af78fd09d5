"""Pure audit core: deterministic findings on backtests and financial statements, their score,
the citation check for narratives and the deterministic narrative."""
