/**
 * The `none` validator: every registration passes. For demos and trusted networks only; the
 * loader is expected to warn when a profile relies on it alone.
 */
import type { ComposableValidator } from './compose.js';
import type { ValidationResult } from './validator.js';

export class NoneValidator implements ComposableValidator {
  readonly type = 'none';
  readonly id: string;

  constructor(id = 'none') {
    this.id = id;
  }

  async precheck(): Promise<ValidationResult> {
    return { outcome: 'pass' };
  }

  async validate(): Promise<ValidationResult> {
    return { outcome: 'pass' };
  }
}
