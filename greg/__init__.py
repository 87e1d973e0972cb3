"""Expert bots: entry engine, position engine, hedging, sandbox positions."""
