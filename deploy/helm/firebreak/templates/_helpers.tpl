{{- define "firebreak.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name when it already says firebreak. */}}
{{- define "firebreak.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "firebreak.selectorLabels" -}}
app.kubernetes.io/name: {{ include "firebreak.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "firebreak.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "firebreak.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The worker's service account: it changes Deployments, in rbac.namespaces only. */}}
{{- define "firebreak.serviceAccountName" -}}
{{- default (include "firebreak.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The ingress's service account: read-only, cluster-wide; its token is mounted for FIREBREAK_INGRESS_KUBECONFIG. */}}
{{- define "firebreak.ingressServiceAccountName" -}}
{{- printf "%s-ingress" (include "firebreak.serviceAccountName" .) -}}
{{- end -}}

{{- define "firebreak.configMapName" -}}
{{- default (printf "%s-config" (include "firebreak.fullname" .)) .Values.config.existingConfigMap -}}
{{- end -}}

{{- define "firebreak.hasConfig" -}}
{{- if or .Values.config.existingConfigMap .Values.config.inline -}}true{{- end -}}
{{- end -}}
