{{/*
A Deployment of the estimator image. Call with
  (dict "root" $ "component" "gateway" "args" (list ...) "secrets" (list (dict "env" "REDIS_URL" "key" "redisUrl") ...)
        "http" true "grace" 45 "methodology" true)
"http": the container serves the API on port 8000 (http) and /metrics on metricsPort (metrics), probes on http;
otherwise (the worker) it serves only the metrics port, where the probes are.
*/}}
{{- define "estimator.deployment" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $c := .component }}
{{- $cv := get $v $c }}
{{- $ctx := dict "root" $root "component" $c }}
{{- $probePort := ternary "http" "metrics" .http }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
  {{- if eq $c "worker" }}
  annotations:
    # The operator sets WORKER_MAX_JOBS in the container's env; deleting its LLMBudget goes back to this.
    estimator.dev/default-max-jobs: {{ $cv.maxJobs | quote }}
  {{- end }}
spec:
  {{- if not (and $cv.autoscaling $cv.autoscaling.enabled) }}
  replicas: {{ $cv.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "estimator.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "estimator.labels" $ctx | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "estimator.config" $ctx | sha256sum }}
        {{- if and .methodology $v.methodology.override }}
        checksum/methodology: {{ $v.methodology.override | sha256sum }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .grace }}
      securityContext:
        {{- include "estimator.podSecurityContext" (dict "uid" 10001) | nindent 8 }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- include "estimator.scheduling" $ctx | trim | nindent 6 }}
      containers:
        - name: {{ $c }}
          image: {{ include "estimator.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            {{- if .http }}
            - name: http
              containerPort: 8000
              protocol: TCP
            {{- end }}
            - name: metrics
              containerPort: {{ $v.metricsPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "estimator.componentName" $ctx }}
          {{- $secretEnv := "" }}
          {{- range .secrets }}
          {{- $secretEnv = print $secretEnv "\n" (include "estimator.secretEnv" (merge (dict "root" $root) .) | trim) }}
          {{- end }}
          {{- if trim $secretEnv }}
          env:
            {{- trim $secretEnv | nindent 12 }}
          {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: {{ $probePort }}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet:
              path: /healthz
              port: {{ $probePort }}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: {{ $probePort }}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml $cv.resources | nindent 12 }}
          securityContext:
            {{- include "estimator.containerSecurityContext" (dict "uid" 10001) | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .methodology }}
            {{- include "estimator.methodologyVolumeMount" $root | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if .methodology }}
        {{- include "estimator.methodologyVolume" $root | nindent 8 }}
        {{- end }}
{{- end }}

{{/* A Service for a component: (dict "root" $ "component" "gateway" "http" true) */}}
{{- define "estimator.service" -}}
{{- $ctx := dict "root" .root "component" .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
spec:
  type: {{ if .http }}{{ .root.Values.service.type }}{{ else }}ClusterIP{{ end }}
  selector:
    {{- include "estimator.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- if .http }}
    - name: http
      port: {{ .root.Values.service.port }}
      targetPort: http
      protocol: TCP
    {{- end }}
    - name: metrics
      port: {{ .root.Values.metricsPort }}
      targetPort: metrics
      protocol: TCP
{{- end }}

{{/* A CPU HorizontalPodAutoscaler: (dict "root" $ "component" "gateway") */}}
{{- define "estimator.cpuHpa" -}}
{{- $ctx := dict "root" .root "component" .component }}
{{- $a := (get .root.Values .component).autoscaling }}
{{- if $a.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "estimator.componentName" $ctx }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget: (dict "root" $ "component" "gateway") */}}
{{- define "estimator.pdb" -}}
{{- $ctx := dict "root" .root "component" .component }}
{{- $p := (get .root.Values .component).pdb }}
{{- if $p.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $p.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "estimator.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end }}

{{/* A ConfigMap of a component's non-secret settings: (dict "root" $ "component" "gateway") */}}
{{- define "estimator.configMap" -}}
{{- $ctx := dict "root" .root "component" .component }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
data:
  {{- range $k, $val := (include "estimator.config" $ctx | fromYaml) }}
  {{ $k }}: {{ $val | toString | quote }}
  {{- end }}
{{- end }}
