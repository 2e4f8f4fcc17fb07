/**
 * The post-incident checklist of the source runbook (001, "故障后检查清单"), in English with the
 * original wording kept beside each item so nothing is lost in translation.
 */
export const CHECKLIST: readonly { item: string; original: string }[] = [
  { item: 'Verify the problem is resolved', original: '验证问题已解决' },
  { item: 'Update the monitoring configuration', original: '更新监控配置' },
  { item: 'Record the incident report', original: '记录故障报告' },
  { item: 'Update the runbook', original: '更新运行手册' },
  { item: 'Hold the incident retrospective', original: '进行故障复盘' },
  { item: 'Put preventive measures in place', original: '实施预防措施' },
];
