"""Chat with the agent: read-only tools (`tools`) and conversations answered by them (`service`).

This package reads; it has no path to orders (`.importlinter`: chat-has-no-order-path).
"""
