"""Pure numpy backtest engine: indicators, strategies, broker/engine and metrics.

Bar timing (everywhere in this package): a signal at bar ``t`` is decided on bar ``t``'s close and
uses data up to and including ``t`` only; the resulting order fills at bar ``t + 1``'s open.
See docs/engine.md.
"""

ENGINE_VERSION = "1.0.0"
