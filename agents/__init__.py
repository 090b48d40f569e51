"""Agent types of the Local Authority model, one module each (docs/ODD.md §2.2)."""

from agents.leader import Leader
from agents.partner import Partner
from agents.referrer import Referrer
from agents.supervisor import Supervisor
from agents.therapist import Therapist

__all__ = ["Leader", "Partner", "Referrer", "Supervisor", "Therapist"]
