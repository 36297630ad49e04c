"""Real components for driftline's tests, each started on 127.0.0.1 and stopped by pid.

- ``ports``: ``free_port()``
- ``procs``: external processes with a log file, readiness over HTTP, stop by pid
- ``_service``: ``ConfiguredServer``, the lifecycle ``Prometheus`` and ``Alertmanager`` share
- ``_http``: ``LoopbackHttpServer``, the threaded server behind the HTTP test doubles
- ``prometheus``: ``Prometheus``, a real server with a generated config
- ``alertmanager``: ``Alertmanager``, a real server with a webhook receiver
- ``http_sink``: ``HttpSink``, stands in for the sidecar's ``POST /v1/records``
- ``webhook``: ``WebhookRecorder``, records JSON POSTs (Alertmanager webhooks)
- ``otlp_receiver``: ``OtlpReceiver``, decodes OTLP/HTTP protobuf trace exports
- ``sidecar``: churn 1.0 reference data, profile, config and bodies; ``start_sidecar()``

Import from the modules themselves, e.g. ``from tests.support.prometheus import Prometheus``.
"""
