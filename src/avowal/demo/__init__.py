"""A small demo site served at ``/demo/`` (``AVOWAL_DEMO=true``, as ``make run`` sets it): a
site's pages wired to avowal the way a real back end is, through the Python client and
:mod:`avowal.integrations.forms`, on whatever policy the server enforces."""
