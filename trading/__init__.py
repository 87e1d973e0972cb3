"""The live agent: positions, orders, decisions, controls, health guard."""
