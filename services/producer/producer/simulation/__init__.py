"""A seeded, deterministic simulator of card transactions with labelled fraud scenarios."""

from producer.simulation.config import CATEGORIES, Scenario, SimulationConfig
from producer.simulation.population import Customer, Merchant, Population
from producer.simulation.simulator import LEGIT, SimLabel, SimulatedEvent, Simulator

__all__ = [
    "CATEGORIES",
    "LEGIT",
    "Customer",
    "Merchant",
    "Population",
    "Scenario",
    "SimLabel",
    "SimulatedEvent",
    "SimulationConfig",
    "Simulator",
]
