"""The fleet's hosts as the tests reach them: through Molecule's inventory."""

import os

import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]


def fleet_host(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")
