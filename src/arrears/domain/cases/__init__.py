"""Pure rules of the collection case: the state machine, negotiation, escalation and legal criteria."""
