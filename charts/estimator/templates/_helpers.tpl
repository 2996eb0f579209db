{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "estimator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "estimator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", e.g. estimator-saves: the name of a component's Deployment and Service. */}}
{{- define "estimator.componentName" -}}
{{- printf "%s-%s" (include "estimator.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "estimator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: call with (dict "root" $ "component" "gateway") ---------------------------------- */}}

{{- define "estimator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "estimator.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "estimator.labels" -}}
helm.sh/chart: {{ include "estimator.chart" .root }}
{{ include "estimator.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: estimator
{{- end }}

{{/* Labels of the release without a component (default-deny policy, dashboards). */}}
{{- define "estimator.releaseLabels" -}}
helm.sh/chart: {{ include "estimator.chart" . }}
app.kubernetes.io/name: {{ include "estimator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: estimator
{{- end }}

{{- define "estimator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Restricted Pod Security Standard ------------------------------------------------------------ */}}

{{/* Pod securityContext; call with (dict "uid" 10001). */}}
{{- define "estimator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "estimator.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Scheduling shared by every component: (dict "root" $ "component" "gateway") */}}
{{- define "estimator.scheduling" -}}
{{- $v := .root.Values }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $v.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "estimator.selectorLabels" . | nindent 8 }}
  {{- if gt (int $v.topologySpread.zoneSkew) 0 }}
  - maxSkew: {{ $v.topologySpread.zoneSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "estimator.selectorLabels" . | nindent 8 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Secrets ----------------------------------------------------------------------------------------- */}}

{{- define "estimator.secretName" -}}
{{- if .Values.secrets.create }}
{{- include "estimator.fullname" . }}
{{- else }}
{{- .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{/* One env entry from the Secret: (dict "root" $ "env" "REDIS_URL" "key" "redisUrl" "optional" false).
     Renders nothing for an optional secret whose key is unmapped. */}}
{{- define "estimator.secretEnv" -}}
{{- $key := get .root.Values.secrets.keys .key }}
{{- if $key }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "estimator.secretName" .root }}
      key: {{ $key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{- define "estimator.redisUrl" -}}
{{- if .Values.secrets.values.redisUrl }}
{{- .Values.secrets.values.redisUrl }}
{{- else if .Values.redis.enabled }}
{{- printf "redis://:%s@%s:%d/0" (urlquery .Values.redis.password) (include "estimator.componentName" (dict "root" . "component" "redis")) (int .Values.redis.port) }}
{{- end }}
{{- end }}

{{- define "estimator.databaseUrl" -}}
{{- if .Values.secrets.values.databaseUrl }}
{{- .Values.secrets.values.databaseUrl }}
{{- else if .Values.postgresql.enabled }}
{{- $pg := .Values.postgresql }}
{{- printf "postgresql+asyncpg://%s:%s@%s:%d/%s" $pg.username (urlquery $pg.password) (include "estimator.componentName" (dict "root" . "component" "postgresql")) (int $pg.port) $pg.database }}
{{- end }}
{{- end }}

{{/* Checks that fail the render with a message naming the value to set. Included by every workload. */}}
{{- define "estimator.validate" -}}
{{- $s := .Values.secrets }}
{{- if $s.create }}
  {{- if not (include "estimator.databaseUrl" .) }}
    {{- fail "DATABASE_URL has no source: set secrets.values.databaseUrl, or postgresql.enabled=true (development only), or use secrets.existingSecret with secrets.keys.databaseUrl" }}
  {{- end }}
  {{- if not (include "estimator.redisUrl" .) }}
    {{- fail "REDIS_URL has no source: set secrets.values.redisUrl, or redis.enabled=true (development only), or use secrets.existingSecret with secrets.keys.redisUrl" }}
  {{- end }}
  {{- if lt (len $s.values.internalToken) 16 }}
    {{- fail "secrets.values.internalToken must be at least 16 characters (INTERNAL_TOKEN)" }}
  {{- end }}
  {{- if not $s.values.anthropicApiKey }}
    {{- fail "secrets.values.anthropicApiKey is required (ANTHROPIC_API_KEY; any placeholder when simulator.enabled=true)" }}
  {{- end }}
{{- else }}
  {{- if not $s.existingSecret }}
    {{- fail "secrets.existingSecret is required: name the Secret holding DATABASE_URL, REDIS_URL, INTERNAL_TOKEN and ANTHROPIC_API_KEY (or set secrets.create=true for development)" }}
  {{- end }}
  {{- range $k := list "databaseUrl" "redisUrl" "internalToken" "anthropicApiKey" }}
    {{- if not (get $s.keys $k) }}
      {{- fail (printf "secrets.keys.%s is empty: the Secret %q must provide it (DATABASE_URL, REDIS_URL, INTERNAL_TOKEN and ANTHROPIC_API_KEY are required)" $k $s.existingSecret) }}
    {{- end }}
  {{- end }}
  {{- if or .Values.redis.enabled .Values.postgresql.enabled }}
    {{- fail "the in-chart redis/postgresql (development only) need secrets.create=true, which builds REDIS_URL and DATABASE_URL from their passwords" }}
  {{- end }}
{{- end }}
{{- if and .Values.redis.enabled (not .Values.redis.password) }}
  {{- fail "redis.password is required when redis.enabled=true" }}
{{- end }}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.password) }}
  {{- fail "postgresql.password is required when postgresql.enabled=true" }}
{{- end }}
{{- range $c := list "gateway" "chat" "saves" "worker" }}
  {{- $a := (get $.Values $c).autoscaling }}
  {{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
    {{- fail (printf "%s.autoscaling.minReplicas (%d) is above maxReplicas (%d)" $c (int $a.minReplicas) (int $a.maxReplicas)) }}
  {{- end }}
{{- end }}
{{- $w := .Values.worker }}
{{- $replicas := ternary $w.autoscaling.maxReplicas $w.replicaCount $w.autoscaling.enabled }}
{{- $cap := int (include "estimator.workerConcurrencyCap" .) }}
{{- if gt (mul (int $replicas) (int $w.maxJobs)) $cap }}
  {{- fail (printf "worker: %d replicas x maxJobs %d = %d concurrent estimations, above the %d the Claude budget feeds (worker.autoscaling.maxConcurrentEstimations, or outputTpm x (1 - chatReserve) / (outputTokensPerEstimation x 60 / estimationDurationSeconds)); lower worker.autoscaling.maxReplicas or worker.maxJobs" (int $replicas) (int $w.maxJobs) (mul (int $replicas) (int $w.maxJobs)) $cap) }}
{{- end }}
{{- end }}

{{/* How many estimations the Claude budget feeds at once (see values.yaml worker.autoscaling). */}}
{{- define "estimator.workerConcurrencyCap" -}}
{{- $a := .Values.worker.autoscaling }}
{{- if gt (int $a.maxConcurrentEstimations) 0 }}
{{- int $a.maxConcurrentEstimations }}
{{- else }}
{{- $llm := .Values.config.llm }}
{{- $estimationTpm := divf (mulf $a.outputTokensPerEstimation 60) $a.estimationDurationSeconds }}
{{- floor (divf (mulf $llm.outputTpm (subf 1 $llm.chatReserve)) $estimationTpm) | int }}
{{- end }}
{{- end }}

{{/* Configuration: the non-secret variables each service reads, as a map ------------------------ */}}

{{- define "estimator.methodologyPath" -}}/etc/estimator/methodology/methodology.md{{- end }}

{{- define "estimator.anthropicBaseUrl" -}}
{{- if .Values.simulator.enabled }}
{{- printf "http://%s:%d" (include "estimator.componentName" (dict "root" . "component" "simulator")) (int .Values.service.port) }}
{{- end }}
{{- end }}

{{/* (dict "root" $ "component" "gateway") -> YAML map of env name -> string value */}}
{{- define "estimator.config" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $c := .component }}
{{- $env := dict "ESTIMATOR_ENV" "production" "LOG_LEVEL" $v.config.logLevel "LOG_FORMAT" $v.config.logFormat }}
{{- $saves := printf "http://%s:%d" (include "estimator.componentName" (dict "root" $root "component" "saves")) (int $v.service.port) }}
{{- if has $c (list "gateway" "chat" "saves" "worker") }}
  {{- with $v.config.otlpEndpoint }}{{ $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}{{ end }}
{{- end }}
{{- if has $c (list "gateway" "chat" "saves") }}
  {{- $_ := set $env "SHUTDOWN_DELAY_S" (toString $v.config.shutdownDelaySeconds) }}
{{- end }}
{{- if has $c (list "gateway" "chat" "saves" "simulator") }}
  {{- $_ := set $env "METRICS_PORT" (toString $v.metricsPort) }}
{{- end }}
{{- if has $c (list "gateway" "chat" "worker") }}
  {{- $_ := set $env "LLM_RPM" (toString $v.config.llm.rpm) }}
  {{- $_ := set $env "LLM_INPUT_TPM" (toString $v.config.llm.inputTpm) }}
  {{- $_ := set $env "LLM_OUTPUT_TPM" (toString $v.config.llm.outputTpm) }}
  {{- $_ := set $env "LLM_MAX_IN_FLIGHT" (toString $v.config.llm.maxInFlight) }}
  {{- $_ := set $env "LLM_CHAT_RESERVE" (toString $v.config.llm.chatReserve) }}
  {{- $_ := set $env "SAVES_URL" $saves }}
{{- end }}
{{- if eq $c "gateway" }}
  {{- $_ := set $env "CHAT_URL" (printf "http://%s:%d" (include "estimator.componentName" (dict "root" $root "component" "chat")) (int $v.service.port)) }}
{{- end }}
{{- if has $c (list "chat" "worker") }}
  {{- $_ := set $env "ANTHROPIC_MODEL" $v.config.anthropicModel }}
  {{- with include "estimator.anthropicBaseUrl" $root }}{{ $_ := set $env "ANTHROPIC_BASE_URL" . }}{{ end }}
  {{- with $v.config.rateCard }}{{ $_ := set $env "RATE_CARD" (toJson .) }}{{ end }}
{{- end }}
{{- if and $v.methodology.override (has $c (list "chat" "worker")) }}
  {{- $_ := set $env "METHODOLOGY_FILE" (include "estimator.methodologyPath" $root) }}
{{- end }}
{{- if eq $c "chat" }}
  {{- $_ := set $env "CHAT_DRAIN_S" (toString $v.chat.drainSeconds) }}
{{- end }}
{{- if eq $c "worker" }}
  {{- $_ := set $env "WORKER_MAX_JOBS" (toString $v.worker.maxJobs) }}
  {{- $_ := set $env "WORKER_DRAIN_S" (toString $v.worker.drainSeconds) }}
  {{- $_ := set $env "WORKER_METRICS_HOST" "0.0.0.0" }}
  {{- $_ := set $env "WORKER_METRICS_PORT" (toString $v.metricsPort) }}
{{- end }}
{{- range $name, $value := (get $v $c).settings }}
  {{- $_ := set $env $name (toString $value) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* The methodology volume, for chat and the worker, when an override is given. */}}
{{- define "estimator.methodologyVolumeMount" -}}
{{- if .Values.methodology.override }}
- name: methodology
  mountPath: /etc/estimator/methodology
  readOnly: true
{{- end }}
{{- end }}

{{- define "estimator.methodologyVolume" -}}
{{- if .Values.methodology.override }}
- name: methodology
  configMap:
    name: {{ include "estimator.fullname" . }}-methodology
{{- end }}
{{- end }}
