{{/* vystra.name: the chart name, or nameOverride. */}}
{{- define "vystra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
vystra.fullname: prefix of every resource name. The release name alone when it already
contains the chart name (`helm install vystra ...` gives vystra-operator, vystra-api,
vystra-worker: the operator's own defaults).
*/}}
{{- define "vystra.fullname" -}}
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

{{/* vystra.labels: common labels; pass (dict "ctx" $ "component" "api"). */}}
{{- define "vystra.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "vystra.selectorLabels" . }}
{{- end }}

{{/* vystra.selectorLabels: the immutable subset used by Deployment selectors. */}}
{{- define "vystra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vystra.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
vystra.withLabels: (dict "labels" <the chart's labels> "extra" <a values map> "where" <its key>)
-> the chart's labels, then the extra ones; an extra label may not replace one of the
chart's (a Deployment's selector must keep matching its pods).
*/}}
{{- define "vystra.withLabels" -}}
{{ .labels }}
{{- $own := fromYaml .labels }}
{{- range $key, $_ := .extra }}
{{- if hasKey $own $key }}
{{- fail (printf "%s may not set %s: the chart sets that label" $.where $key) }}
{{- end }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
vystra.serviceAccountMetadata: (dict "ctx" $ "component" "api" "values" <its serviceAccount
values> "where" <their key>) -> labels and annotations of a component's ServiceAccount; the
annotations are what cloud workload identity binds to (EKS IRSA, GKE Workload Identity, AKS
workload identity).
*/}}
{{- define "vystra.serviceAccountMetadata" -}}
labels:
  {{- include "vystra.withLabels" (dict
    "labels" (include "vystra.labels" (dict "ctx" .ctx "component" .component))
    "extra" .values.labels "where" (printf "%s.labels" .where)) | nindent 2 }}
{{- with .values.annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
vystra.placement: a component's values -> where its pods run: priorityClassName,
nodeSelector, tolerations, affinity and topologySpreadConstraints, each only when set.
*/}}
{{- define "vystra.placement" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- range $key := list "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" }}
{{- with index $ $key }}
{{ $key }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/* vystra.tag: the image tag shared by every Vystra image. */}}
{{- define "vystra.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
vystra.image: (list $ repository suffix) -> repository:<tag><suffix>, or the reference as
given when it already names a tag or digest (skaffold passes fully qualified references).
*/}}
{{- define "vystra.image" -}}
{{- $ctx := index . 0 }}{{ $ref := index . 1 }}{{ $suffix := index . 2 }}
{{- if regexMatch "(@sha256:[0-9a-f]+|:[^/]+)$" $ref }}
{{- $ref }}
{{- else }}
{{- printf "%s:%s%s" $ref (include "vystra.tag" $ctx) $suffix }}
{{- end }}
{{- end }}

{{/*
Names shared between templates and the operator's settings (worker Jobs, in the release
namespace, use the worker's ServiceAccount, ConfigMap and Secret by these names).
*/}}
{{- define "vystra.operatorName" -}}{{ include "vystra.fullname" . }}-operator{{- end }}
{{- define "vystra.apiName" -}}{{ include "vystra.fullname" . }}-api{{- end }}
{{- define "vystra.workerName" -}}{{ include "vystra.fullname" . }}-worker{{- end }}

{{/* vystra.secretName: the Secret with DATABASE_URL, object store keys and GROQ_API_KEY. */}}
{{- define "vystra.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "vystra.workerName" .) }}
{{- end }}

{{/* vystra.stripeSecretName: the API's Stripe keys. */}}
{{- define "vystra.stripeSecretName" -}}
{{- .Values.stripe.existingSecret | default (printf "%s-stripe" (include "vystra.fullname" .)) }}
{{- end }}

{{/* vystra.hasStripe: non-empty when the API should read Stripe keys. */}}
{{- define "vystra.hasStripe" -}}
{{- if or .Values.stripe.existingSecret .Values.stripe.apiKey .Values.stripe.webhookSecret }}true{{ end }}
{{- end }}

{{/*
vystra.podSecurity: the containers run as the images' non-root user (uid 10001) with a
read-only root filesystem; what they write goes to an emptyDir at /tmp.
*/}}
{{- define "vystra.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "vystra.containerSecurityContext" -}}
allowPrivilegeEscalation: false
{{- /* devReload: skaffold syncs changed code into the container */}}
readOnlyRootFilesystem: {{ not .Values.devReload }}
capabilities:
  drop: [ALL]
{{- end }}

{{/*
vystra.pools: the operator's pools file (operator/vystra_operator/config.py, Pool). The
worker images are derived here from `image`, so they are defined in one place.
*/}}
{{- define "vystra.pools" -}}
{{- $pools := list }}
{{- with .Values.pools.gpu }}
{{- if .enabled }}
{{- $pool := dict
  "name" "gpu" "gpu" true "image" (include "vystra.image" (list $ (.image | default $.Values.image.worker) "-cuda"))
  "node_selector" .nodeSelector "tolerations" .tolerations "rtf" .rtf
  "autoscaled" .autoscaled "max_pending" .maxPending "scale_up_seconds" .scaleUpSeconds
  "requests" (include "vystra.strings" .resources.requests | fromYaml)
  "limits" (include "vystra.strings" .resources.limits | fromYaml)
  "env" (include "vystra.strings" .env | fromYaml) }}
{{- include "vystra.poolPod" (list $ . $pool) }}
{{- $pools = append $pools $pool }}
{{- end }}
{{- end }}
{{- with .Values.pools.cpu }}
{{- if .enabled }}
{{- $pool := dict
  "name" "cpu" "gpu" false "image" (include "vystra.image" (list $ (.image | default $.Values.image.worker) "-cpu"))
  "node_selector" .nodeSelector "tolerations" .tolerations "rtf" .rtf
  "max_concurrent" .maxConcurrent
  "requests" (include "vystra.strings" .resources.requests | fromYaml)
  "limits" (include "vystra.strings" .resources.limits | fromYaml)
  "env" (include "vystra.strings" .env | fromYaml) }}
{{- include "vystra.poolPod" (list $ . $pool) }}
{{- $pools = append $pools $pool }}
{{- end }}
{{- end }}
{{- $tenants := list }}
{{- range .Values.scheduling.tenants }}
{{- $tenant := dict "name" .name "weight" (.weight | default 1) }}
{{- if hasKey . "gpuSecondsBudget" }}{{ $_ := set $tenant "gpu_seconds_budget" .gpuSecondsBudget }}{{ end }}
{{- $tenants = append $tenants $tenant }}
{{- end }}
{{- with .Values.scheduling }}
{{- toYaml (dict "pools" $pools
  "priority_classes" .priorityClasses "default_priority_class" .defaultPriorityClass
  "tenants" $tenants "default_tenant_weight" .defaultTenantWeight
  "aging_per_hour" .agingPerHour "unschedulable_seconds" .unschedulableSeconds
  "batch_max" .batchMax "batch_short_seconds" .batchShortSeconds
  "admission" .admission "kueue_queue" .kueueQueue) }}
{{- end }}
{{- end }}

{{/*
vystra.poolPod: (list $ <a pool's values> <its entry in the pools file>) adds, only when
set, its worker pods' PriorityClass (the pool's own, else pools.priorityClassName) and the
model volume (operator/vystra_operator/flavors.py, ModelVolume). Writes nothing.
*/}}
{{- define "vystra.poolPod" -}}
{{- $ctx := index . 0 }}{{ $values := index . 1 }}{{ $pool := index . 2 }}
{{- with $values.priorityClassName | default $ctx.Values.pools.priorityClassName }}
{{- $_ := set $pool "priority_class_name" . }}
{{- end }}
{{- with $ctx.Values.pools.models }}
{{- if .volume }}
{{- if regexMatch "^/tmp(/|$)" .mountPath }}
{{- fail "pools.models.mountPath may not be /tmp or under it: the workers' scratch volume" }}
{{- end }}
{{- if regexMatch "(^|/)\\.\\.(/|$)" .whisperModel }}
{{- fail "pools.models.whisperModel must be a folder inside the volume, without .." }}
{{- end }}
{{- $volume := dict "source" .volume "mount_path" .mountPath }}
{{- with .whisperModel }}{{ $_ := set $volume "whisper_model" . }}{{ end }}
{{- $_ := set $pool "model_volume" $volume }}
{{- end }}
{{- end }}
{{- end }}

{{/* vystra.strings: a map with every value as a string (cpu: 2 -> "2"), as the operator's
Pool model expects; read back with fromYaml. */}}
{{- define "vystra.strings" -}}
{{- range $key, $value := . }}
{{ $key | quote }}: {{ include "vystra.string" $value | quote }}
{{- end }}
{{- end }}

{{/* vystra.string: a value as text. YAML numbers reach templates as float64, whose text is
5.24288e+06 for 5242880: whole numbers are written as integers. */}}
{{- define "vystra.string" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}
