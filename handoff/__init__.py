"""The facilitators' side: the handoff queue, routing to teams, the console and its API."""
