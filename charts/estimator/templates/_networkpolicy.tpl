{{/* Peers and rules shared by the NetworkPolicies. */}}

{{/* A peer: pods of this release's component: (dict "root" $ "component" "gateway") */}}
{{- define "estimator.np.peer" -}}
- podSelector:
    matchLabels:
      {{- include "estimator.selectorLabels" . | nindent 6 }}
{{- end }}

{{/* A peer from values: {namespaceSelector, podSelector} */}}
{{- define "estimator.np.selectorPeer" -}}
- namespaceSelector:
    {{- toYaml .namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .podSelector | nindent 4 }}
{{- end }}

{{/* Egress to the cluster DNS. */}}
{{- define "estimator.np.dns" -}}
{{- $d := .Values.networkPolicy.dns }}
- to:
    {{- include "estimator.np.selectorPeer" $d | nindent 4 }}
  ports:
    - port: {{ $d.port }}
      protocol: UDP
    - port: {{ $d.port }}
      protocol: TCP
{{- end }}

{{/* Egress to a store: (dict "root" $ "store" "redis") — the in-chart pods, or the configured CIDRs. */}}
{{- define "estimator.np.store" -}}
{{- $v := .root.Values }}
{{- $np := get $v.networkPolicy .store }}
{{- if (get $v .store).enabled }}
- to:
    {{- include "estimator.np.peer" (dict "root" .root "component" .store) | nindent 4 }}
  ports:
    - port: {{ (get $v .store).port }}
      protocol: TCP
{{- else }}
- ports:
    {{- range $np.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $np.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Egress to components' http port: (dict "root" $ "components" (list "saves" "chat")) */}}
{{- define "estimator.np.toHttp" -}}
- to:
    {{- range .components }}
    {{- include "estimator.np.peer" (dict "root" $.root "component" .) | nindent 4 }}
    {{- end }}
  ports:
    - port: 8000
      protocol: TCP
{{- end }}

{{/* HTTPS egress (Claude, GitHub). */}}
{{- define "estimator.np.https" -}}
{{- $h := .Values.networkPolicy.https }}
- to:
    {{- range $h.cidrs }}
    - ipBlock:
        cidr: {{ . }}
        {{- with $h.except }}
        except:
          {{- toYaml . | nindent 10 }}
        {{- end }}
    {{- end }}
  ports:
    {{- range $h.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* Egress to the Kubernetes API server (the operator): its ports, to the configured CIDRs or any address. */}}
{{- define "estimator.np.apiServer" -}}
{{- $a := .Values.networkPolicy.apiServer }}
- ports:
    {{- range $a.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $a.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}

{{/* Egress to Claude: the in-chart simulator when enabled, else HTTPS. */}}
{{- define "estimator.np.claude" -}}
{{- if .Values.simulator.enabled }}
{{- include "estimator.np.toHttp" (dict "root" . "components" (list "simulator")) }}
{{- else }}
{{- include "estimator.np.https" . }}
{{- end }}
{{- end }}

{{/* Ingress from Prometheus to the metrics port. */}}
{{- define "estimator.np.prometheus" -}}
- from:
    {{- include "estimator.np.selectorPeer" .Values.networkPolicy.prometheus | nindent 4 }}
  ports:
    - port: metrics
      protocol: TCP
{{- end }}

{{/* Ingress from the `helm test` Pod to a port: (dict "root" $ "port" "http") */}}
{{- define "estimator.np.fromTest" -}}
{{- if .root.Values.tests.enabled }}
- from:
    {{- include "estimator.np.peer" (dict "root" .root "component" "test") | nindent 4 }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}
{{- end }}

{{/* Ingress from components to a named port: (dict "root" $ "components" (list ...) "port" "http") */}}
{{- define "estimator.np.from" -}}
- from:
    {{- range .components }}
    {{- include "estimator.np.peer" (dict "root" $.root "component" .) | nindent 4 }}
    {{- end }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}

{{/* A NetworkPolicy: (dict "root" $ "component" "gateway" "ingress" "<rules yaml>" "egress" "<rules yaml>") */}}
{{- define "estimator.np.policy" -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "estimator.componentName" $ctx }}
  labels:
    {{- include "estimator.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "estimator.selectorLabels" $ctx | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
  {{- if trim .ingress }}
  ingress:
    {{- regexReplaceAll "\n\\s*\n" (trim .ingress) "\n" | nindent 4 }}
  {{- else }}
  ingress: []
  {{- end }}
  {{- if trim .egress }}
  egress:
    {{- regexReplaceAll "\n\\s*\n" (trim .egress) "\n" | nindent 4 }}
  {{- else }}
  egress: []
  {{- end }}
{{- end }}
