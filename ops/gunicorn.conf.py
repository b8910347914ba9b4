"""gunicorn settings for the API (`imgpress serve` passes bind and workers on the command line)."""

from ops import metrics

# gthread: an upload streams for as long as the client sends, so a worker needs threads to
# keep answering /status meanwhile.
worker_class = "gthread"
threads = 4
timeout = 120
graceful_timeout = 20
accesslog = "-"
# gunicorn 25+ opens a control socket at one path per user; two services of one user
# (tests, a second data dir) would fight over it, and we do not use it.
control_socket_disable = True


def child_exit(server: object, worker: object) -> None:
    # A dead worker's multiprocess metric files would otherwise count forever as live gauges.
    metrics.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
