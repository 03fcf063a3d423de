"""The cycle collector is paused while a batch is formatted, and put back as it was."""

import gc

import pytest

from market.pgcopy import cyclic_gc_paused


@pytest.mark.parametrize("was_on", [True, False])
def test_the_collector_is_off_inside_and_as_before_after_even_on_an_error(was_on):
    (gc.enable if was_on else gc.disable)()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is was_on
        with pytest.raises(RuntimeError), cyclic_gc_paused():
            raise RuntimeError("the server went away")
        assert gc.isenabled() is was_on
    finally:
        gc.enable()
